"""Statistics (/stats/*): figures from rollups that events/repo.append keeps as events are written."""
