"""The Marketing Director: classify, plan, run a skill, review, move a goal, render its pages."""
