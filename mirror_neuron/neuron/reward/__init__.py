"""Reward models: (prompt, completion) -> reward, with every component kept for analysis."""
