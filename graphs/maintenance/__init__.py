"""The maintenance graph: manual and history -> drafted work order -> (approval) -> publish."""
