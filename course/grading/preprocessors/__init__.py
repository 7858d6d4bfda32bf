"""The course's nbgrader preprocessors, named in autograders/nbgrader_config.py."""
