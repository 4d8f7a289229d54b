"""Grounding: whether an answer keeps to its passages and to the question.

    verify.py       checks each answer sentence against the passage it cites; repairs citations
    constraints.py  what a question pins down (years, dates, ordinals, numbers, qualifiers, names)
    guard.py        text that talks to the assistant: never evidence, never an answer
    conflict.py     a passage of another article giving a different figure of the same kind
"""
