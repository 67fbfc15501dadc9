"""Golden cases, runner, scorers and reports for the graphs."""
