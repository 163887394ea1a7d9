"""What every layer shares: errors a user can act on, the task-kind registry (names only; a kind's module is imported on first use), and the folder lorabench caches into."""
