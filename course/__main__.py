"""`python -m course COMMAND`: the same as the `course` command."""
import sys

from course.cli import main

if __name__ == "__main__":
    sys.exit(main())
