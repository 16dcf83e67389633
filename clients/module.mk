# Client library and CLI (issue 4).
