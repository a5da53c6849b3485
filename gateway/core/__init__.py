"""Pure: the sans-I/O core; ``step(state, event, now)`` returns the new state and effects."""
