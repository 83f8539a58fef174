"""The command line (`xieshang …`) and the embedded runtime: the stack it starts, the process
that serves the API and every deployment, and the demo loop."""
