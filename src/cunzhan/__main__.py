"""The ``cunzhan`` command: Django's manage.py under the project's own name.

``cunzhan migrate``, ``cunzhan regions import --province 52``, ``cunzhan demo`` ...
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cunzhan.config.settings")
    from django.core.management import execute_from_command_line

    # ``cunzhan plan-instance`` spells the ``plan_instance`` command as the issues do.
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = sys.argv[1].replace("-", "_")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
