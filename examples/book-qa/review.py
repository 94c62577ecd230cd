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
# # Reviewing a drafted answer
#
# Each record shows a **passage**, the **question**, the writers' answers (without their names) and
# a **draft** that a model wrote from them. Say whether the draft is a correct answer to the question
# according to the passage.
#
# ## How to review {#reviewing}
#
# - [R-faithful] A draft is good only when the passage supports every claim in it.
# - [R-not-writers] Judge the draft, not the writers' answers: they are shown for context.

# %% tags=["labelbook:task"]
import labelbook as lb

task = lb.Task(
    name="book-qa-review",
    fields=[
        lb.TextField("passage", title="Passage", description="A short passage from a public-domain book."),
        lb.TextField("question", title="Question", description="What the passage should answer."),
        lb.TextField(
            "answers", title="Writers' answers", description="What the writers answered, one a line."
        ),
        lb.TextField("draft", title="Draft", description="The drafted answer to review."),
    ],
    questions=[
        lb.LabelQuestion(
            "verdict",
            title="Is the draft a correct answer?",
            labels={
                "good": "Every claim of the draft is supported by the passage and it answers the question.",
                "bad": "The draft claims something the passage does not support, or does not answer.",
            },
        ),
    ],
    overlap=1,
)
