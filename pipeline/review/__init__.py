"""The review page: a second front end beside the command line, served on 127.0.0.1.

    app.py     the web application: requests, tokens, jobs
    view.py    what the page shows of a session
    edits.py   line-by-line changes to the review file, keeping staff's comments

Like cli.py, it only parses requests and calls the orchestration (run.py, workspace.py).
"""
