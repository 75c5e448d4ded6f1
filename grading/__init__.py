"""The autograder: hidden pytest checks run in this (trusted) process; student code runs only in
a sandboxed worker reached through a safe RPC proxy. See DESIGN.md, "The trusted-evaluator
architecture"."""

GRADER_VERSION = "0.2.0"
