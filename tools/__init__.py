"""Tools that write the project's generated files (`make docs`); the service imports none."""
