"""Response bodies, one module per resource: flows return typed results, these shape the JSON."""
