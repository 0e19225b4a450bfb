"""
One-hot encoded input from a ColumnTransformer
==============================================

The usual scikit-learn preprocessing of mixed data, a
:class:`~sklearn.preprocessing.OneHotEncoder` for the categorical columns and
a :class:`~sklearn.preprocessing.StandardScaler` for the numeric ones, joined
by a :class:`~sklearn.compose.ColumnTransformer`, produces a sparse matrix.
:class:`~sklearn_deepfm.DeepFMClassifier` takes that matrix as it is (it is
never densified) and recovers the *fields* of DeepFM from it: every one-hot
block becomes one field and every numeric column a field of its own.
"""

# %%
# The data: the UCI Adult census data, which ship with the package. We keep
# 6,000 rows for training and 3,000 for testing so that the example runs in
# seconds.
from sklearn.compose import ColumnTransformer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import load_adult

adult = load_adult()
X, y = adult.data, adult.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=6000, test_size=3000, stratify=y, random_state=0
)
categorical = adult.categorical_features
numeric = [name for name in X.columns if name not in categorical]
print(f"categorical columns: {categorical}")
print(f"numeric columns: {numeric}")

# %%
# The pipeline. ``handle_unknown="ignore"`` encodes a category never seen in
# ``fit`` as an all-zero block, so that field adds nothing to the prediction.
# Missing values (NaN) are a category of their own for the encoder.
preprocess = ColumnTransformer(
    [
        ("onehot", OneHotEncoder(handle_unknown="ignore"), categorical),
        ("scale", StandardScaler(), numeric),
    ],
    sparse_threshold=1.0,  # always return a sparse matrix
)
model = make_pipeline(preprocess, DeepFMClassifier(random_state=0))
model.fit(X_train, y_train)
auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
print(f"test ROC AUC: {auc:.3f}")

# %%
# The fields the model found. The matrix has one column per category; the
# fields group them back into the 14 original columns. No ``fields=`` was
# needed: a block of columns of which exactly one is active in every row is
# one field, and a column holding values other than 0 and 1 is numeric.
deepfm = model[-1]
columns = model[0].get_feature_names_out()
print(f"{deepfm.n_features_in_} columns in {deepfm.n_fields_} fields")
for field in range(deepfm.n_fields_):
    names = columns[deepfm.fields_ == field]
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    print(f"field {field:2d}: {len(names):3d} column(s): {shown}")

# %%
# When the inference cannot see the blocks, for example with multi-hot columns
# (:class:`~sklearn.feature_extraction.DictVectorizer` output), where several
# columns of one field are active in the same row, give one field label per
# column with ``fields=``. Here we build the labels from the fitted encoder;
# they give the same fields as the inference.
onehot = model[0].named_transformers_["onehot"]
labels = [
    name
    for name, categories in zip(categorical, onehot.categories_, strict=True)
    for _ in categories
] + numeric
model.set_params(deepfmclassifier__fields=labels).fit(X_train, y_train)
print(f"same fields as inferred: {(model[-1].fields_ == deepfm.fields_).all()}")
