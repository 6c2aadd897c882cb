"""The counted warm-up: plan, timeline, runner and rendering."""
