"""Import of a département export (libraries, resources, titles, FAQ, workshops) and of
the demo network."""
