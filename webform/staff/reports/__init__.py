"""Reports: the warehouse's reports as pages: filters within the viewer's scope, charts, table, downloads."""
