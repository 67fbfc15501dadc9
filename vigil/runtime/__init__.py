"""What runs: the embedded servers and the stack, the API server, agents in replicas."""
