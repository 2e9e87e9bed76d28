"""Geospatial datasets: typed tables with geometry, imports, rows, export, realtime objects."""
