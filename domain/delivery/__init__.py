"""The delivery workflow (shared/specs/business.md §6 I): templates of nodes, assignment by
weight and load, the working-day clock, projects and the dashboard, as pure decisions."""
