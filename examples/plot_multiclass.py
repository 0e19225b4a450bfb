"""
Multiclass classification
=========================

With three or more classes :class:`~sklearn_deepfm.DeepFMClassifier` trains
one logit per class with the cross-entropy loss and ``predict_proba``
returns one column per class. As a task we predict a person's working
hours from the other census attributes of the UCI Adult data: part-time
(under 35 hours a week), full-time (35 to 45) or long hours (over 45).
"""

# %%
# The data, as a DataFrame; ``hours-per-week`` becomes the target and leaves
# the features.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import load_adult

adult = load_adult()
X = adult.data.drop(columns="hours-per-week")
hours = adult.data["hours-per-week"]
y = np.select(
    [hours < 35, hours <= 45], ["part-time", "full-time"], default="long hours"
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=8000, test_size=4000, stratify=y, random_state=0
)
classes, counts = np.unique(y_train, return_counts=True)
for label, count in zip(classes, counts, strict=True):
    print(f"{label:>10}: {count} training rows")

# %%
# DeepFM on the DataFrame as it is (``categorical_features="from_dtype"``:
# the ``category`` columns are categorical, the integer ones numeric), and a
# one-hot logistic regression for reference.
deepfm = DeepFMClassifier(categorical_features="from_dtype", random_state=0)
deepfm.fit(X_train, y_train)

categorical = [name for name in adult.categorical_features if name in X]
numeric = [name for name in X.columns if name not in categorical]
logistic = make_pipeline(
    make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), categorical),
        (StandardScaler(), numeric),
    ),
    LogisticRegression(max_iter=2000),
).fit(X_train, y_train)

for name, model in [("DeepFM", deepfm), ("LogisticRegression", logistic)]:
    proba = model.predict_proba(X_test)
    print(
        f"{name:>18}: accuracy {accuracy_score(y_test, model.predict(X_test)):.3f}, "
        f"log loss {log_loss(y_test, proba, labels=model.classes_):.3f}"
    )
print(f"classes_: {deepfm.classes_}")
print(f"predict_proba shape: {deepfm.predict_proba(X_test).shape}")

# %%
# Where DeepFM goes wrong: the confusion matrix, normalised over the true
# classes.
ConfusionMatrixDisplay.from_estimator(
    deepfm,
    X_test,
    y_test,
    labels=["part-time", "full-time", "long hours"],
    normalize="true",
    values_format=".2f",
)
plt.show()
