"""The pytest plugin of the compatibility suite (tests/ holds only tests): options and fixtures, serving, goldens,
prompts, the expectations each check consults, and the recorder of results/<session>.json."""
