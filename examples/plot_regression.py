"""
Regression
==========

:class:`~sklearn_deepfm.DeepFMRegressor` is the same model with one output,
trained with the squared error on the standardised target (predictions come
back on the original scale). As a task we predict a person's age from the
other census attributes of the UCI Adult data (marital status, relationship
and education carry most of the signal), and compare with a ridge regression
on the same one-hot features and with the mean age.
"""

# %%
# The data, as a DataFrame; ``age`` becomes the target.
import matplotlib.pyplot as plt
from sklearn.compose import make_column_transformer
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import RidgeCV
from sklearn.metrics import PredictionErrorDisplay, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_deepfm import DeepFMRegressor
from sklearn_deepfm.datasets import load_adult

adult = load_adult()
X = adult.data.drop(columns="age")
y = adult.data["age"].astype(float)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=8000, test_size=4000, random_state=0
)

# %%
# Three models: DeepFM on the DataFrame as it is
# (``categorical_features="from_dtype"``), a ridge regression on one-hot and
# standardised features with its penalty chosen by cross-validation, and the
# mean of the training targets.
categorical = [name for name in adult.categorical_features if name in X]
numeric = [name for name in X.columns if name not in categorical]
models = {
    "DeepFM": DeepFMRegressor(categorical_features="from_dtype", random_state=0),
    "RidgeCV": make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            (StandardScaler(), numeric),
        ),
        RidgeCV(alphas=[0.1, 1.0, 10.0, 100.0]),
    ),
    "mean": DummyRegressor(),
}
for name, model in models.items():
    predicted = model.fit(X_train, y_train).predict(X_test)
    print(
        f"{name:>8}: R2 {r2_score(y_test, predicted):.3f}, "
        f"mean absolute error {mean_absolute_error(y_test, predicted):.2f} years"
    )

# %%
# DeepFM's predictions against the true ages, and the residuals.
fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
kinds = ["actual_vs_predicted", "residual_vs_predicted"]
for ax, kind in zip(axes, kinds, strict=True):
    PredictionErrorDisplay.from_estimator(
        models["DeepFM"],
        X_test,
        y_test,
        kind=kind,
        ax=ax,
        subsample=1000,
        random_state=0,
        scatter_kwargs={"alpha": 0.3},
    )
axes[0].set_title("actual against predicted age")
axes[1].set_title("residuals")
plt.show()
