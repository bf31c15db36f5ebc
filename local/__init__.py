"""The local stack: ``template.yaml`` served on 127.0.0.1 with moto as AWS and no Docker.

Never shipped to Lambda. See docs/local-stack.md for how it maps to the real services.
"""
