"""Pieces of the evaluation report: SVG charts, French formats, the PDF."""
