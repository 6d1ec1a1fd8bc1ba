"""`brats-mlops viewer`: a Streamlit app over the registered models (see viewer/app.py)."""
