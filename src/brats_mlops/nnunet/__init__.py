"""nnU-Net v2 inside the platform (``nnunet/dvc.yaml``): the platform's validated, split cases exported to nnU-Net's
raw format, nnU-Net's own planning and preprocessing, its trainer with every epoch in the stage's MLflow run, and its
predictor behind the same evaluation, registry and ``predict`` as the platform's models.

nnU-Net is configured by environment variables (``nnUNet_raw``, ``nnUNet_preprocessed``, ``nnUNet_results``, …);
:func:`brats_mlops.nnunet.env.configure` sets them from ``params.yaml`` before nnU-Net is used — never the user.
"""
