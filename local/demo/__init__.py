"""`make demo` and the chain driver the tests use: build, upload, publish, wait, as a user would."""
