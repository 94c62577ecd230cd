# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Qualification: answering questions about a passage
#
# The same task as the answering stage, on passages whose answers experts know. Your accuracy here
# decides whether you join the writers' team.
#
# ## How to answer {#answering}
#
# - [R-passage-only] Use only the passage. What you know about the book from elsewhere does not count.

# %% tags=["labelbook:task"]
import labelbook as lb

task = lb.Task(
    name="book-qa-qualify",
    fields=[
        lb.TextField("passage", title="Passage", description="A short passage from a public-domain book."),
        lb.TextField("question", title="Question", description="What the passage should answer."),
    ],
    questions=[
        lb.LabelQuestion(
            "answerable",
            title="Does the passage answer the question?",
            labels={
                "yes": "The passage states the answer, or it follows from one sentence of it.",
                "no": "The passage does not say; answering would need knowledge from outside it.",
            },
        ),
    ],
    overlap=1,
)
