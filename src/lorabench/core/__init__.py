"""What every layer shares: errors a user can act on, and the task-kind registry (names only; a kind's module is imported on first use)."""
