"""Reports and the dashboard: static HTML reports of cycles and runs (`report`) and the service's live page
(`dashboard`). `inputs` finds and reads what a report is made of, `data` aggregates it with polars, `plots`
draws it, `markup` assembles the HTML."""
