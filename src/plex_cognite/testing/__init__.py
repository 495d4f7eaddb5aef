"""Test fakes of both APIs, a simulated plant and pytest fixtures, for our tests and yours."""
