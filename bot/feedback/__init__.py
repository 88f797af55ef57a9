"""Feedback: 👍/👎 on answers, free comments, workshop ratings, the satisfaction survey."""
