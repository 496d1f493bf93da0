from sonogen.cli import run

run()
