"""What every feature's handlers use: replies and keyboards, flows (conversations with
rights checked at every step), the command names and menus, pagers, pickers, cards."""
