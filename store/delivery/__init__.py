"""SQL of the delivery workflow (§6 I): templates, people, products, projects and their node
runs, assignment and the queue, the working-day clock, reminders and the dashboard."""
