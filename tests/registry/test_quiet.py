import os
import subprocess
import sys


def test_importing_and_defining_the_pyfuncs_prints_no_type_hint_notice_but_keeps_other_warnings():
    code = ("import warnings, brats_mlops.registry.segmentation, brats_mlops.registry.autoencoder, brats_mlops.registry.survival\n"
            "warnings.warn('a real warning')\n")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert "Add type hints" not in err and "a real warning" in err


def test_verbose_keeps_the_notice():
    code = "import brats_mlops.registry.segmentation\n"
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "BRATS_VERBOSE": "1"}).stderr
    assert "Add type hints" in err
