"""
Multi-valued fields: a column of genres
=======================================

Films have several genres, posts several tags, users several recent
categories. :class:`~sklearn_deepfm.DeepFMClassifier` reads a column whose
cells are lists as **one field**: each genre seen in ``fit`` gets an
embedding, and a row's genres are pooled into one vector (their sum by
default) that the factorization machine pairs with the other fields and the
deep part reads. Rows may hold any number of genres, none included: nothing
is padded and there is no maximum length.

We compare the genres as one field with the same genres as one 0/1 column
each, on synthetic ratings where a user's taste for a genre drives the
label.
"""

# %%
# Synthetic ratings: 100 users, 300 films, 12 genres. A film has 1 to 4
# genres; each user likes some genres and dislikes others, and rates a film
# well when its genres are ones they like (a user-by-genre interaction).
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from sklearn_deepfm import DeepFMClassifier

rng = np.random.default_rng(0)
genres = [f"genre {g}" for g in range(12)]
film_genres = [
    sorted(rng.choice(genres, size=rng.integers(1, 5), replace=False))
    for _ in range(300)
]
taste = rng.normal(size=(100, len(genres)))
n_rows = 12_000
user = rng.integers(0, 100, n_rows)
film = rng.integers(0, 300, n_rows)
liking = np.array(
    [
        np.mean([taste[u, genres.index(g)] for g in film_genres[f]])
        for u, f in zip(user, film, strict=True)
    ]
)
y = (rng.random(n_rows) < 1 / (1 + np.exp(-4 * liking))).astype(int)

X = pd.DataFrame(
    {
        "user": user.astype(str),
        "film": film.astype(str),
        "genres": pd.Series([film_genres[f] for f in film], dtype=object),
    }
)
print(X.head(3))

# %%
# One field for the genres. ``input_layout_`` shows it as multi-valued, with
# an unknown row (genres never seen in ``fit``, missing cells) and a row for
# the empty list.
train, test = slice(0, 9000), slice(9000, None)
model = DeepFMClassifier(random_state=0).fit(X[train], y[train])
print(model.input_layout_)
auc_field = roc_auc_score(y[test], model.predict_proba(X[test])[:, 1])

# %%
# The same genres as 12 columns of 0/1, each read as a categorical field of
# its own: the model then sees 12 genre fields, most of them "not this
# genre", each of which the recipe may cross with the user.
flags = pd.DataFrame(
    {g: [int(g in film_genres[f]) for f in film] for g in genres}, dtype=np.int64
)
X_flags = pd.concat([X[["user", "film"]], flags], axis=1)
flag_model = DeepFMClassifier(
    categorical_features=list(X_flags.columns), random_state=0
).fit(X_flags[train], y[train])
auc_flags = roc_auc_score(y[test], flag_model.predict_proba(X_flags[test])[:, 1])
print(f"test AUC, genres as one field: {auc_field:.4f}")
print(f"test AUC, 12 binary columns:   {auc_flags:.4f}")
print(f"crosses' share in the binary columns' model: {flag_model.crosses_share_}")

# %%
# Here the 12 binary columns win, and by much: the label is a user-by-genre
# table, which the recipe's pairwise crosses (see the training guide) learn
# closely, one weight per user and genre, when each genre is a field of its
# own. A multi-valued field is not crossed: the factorization machine and
# the deep part must learn the table through embeddings, a low-rank
# approximation of it. The one field remains the way to read a list column
# of any length and an open vocabulary (unseen genres, new tags), and the
# one that grows with ``partial_fit``; where a few fixed values carry a
# strong pairwise table, give them columns of their own as well.

# %%
# Unseen genres and empty lists are valid input: an unseen genre uses the
# field's unknown row, an empty list its own learned row.
new = pd.DataFrame(
    {
        "user": ["0", "0", "0"],
        "film": ["0", "0", "0"],
        "genres": [["genre 1"], ["a genre never seen"], []],
    }
)
print(model.predict_proba(new)[:, 1])

# %%
# Both models' test AUC.
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.barh(["12 binary columns", "one multi-valued field"], [auc_flags, auc_field])
ax.set_xlim(0.5, max(auc_field, auc_flags) + 0.05)
ax.set_xlabel("test AUC")
fig.tight_layout()
plt.show()
