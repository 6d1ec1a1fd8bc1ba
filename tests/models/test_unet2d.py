import pytest
import torch

from brats_mlops.errors import UserError
from brats_mlops.models.unet2d import MODELS_2D, SliceUNet, build_model_2d


@pytest.mark.parametrize("name", sorted(MODELS_2D))
def test_2d_models_map_slices_to_class_logits(name):
    net = build_model_2d(name, in_channels=4, num_classes=4)
    assert net(torch.randn(2, 4, 64, 64)).shape == (2, 4, 64, 64)


def test_seed004_models_have_the_seeds_levels_filters_dropout_and_norm():
    m1, m2 = build_model_2d("seed004_model1", 4, 4), build_model_2d("seed004_model2", 4, 4)
    assert m1.filters == [32, 64, 128] and m2.filters == [64, 128, 256, 512]
    drops1 = [m for m in m1.modules() if isinstance(m, torch.nn.Dropout2d)]
    assert drops1 and all(d.p == 0.2 for d in drops1)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in m1.modules())
    assert not any(isinstance(m, (torch.nn.Dropout2d, torch.nn.BatchNorm2d)) for m in m2.modules())
    convs = lambda m: sum(isinstance(x, torch.nn.Conv2d) for x in m.modules())  # noqa: E731
    assert convs(m1) == 2 * 3 + 2 * 2 + 1 and convs(m2) == 2 * 4 + 2 * 3 + 1  # 2 per level down and up, + head
    with pytest.raises(ValueError, match="valid"):
        build_model_2d("vgg", 4, 4)
    with pytest.raises(ValueError):
        SliceUNet(4, 4, levels=1)


def test_resnet18_encoder_weights_come_from_a_local_file_or_a_clear_refusal(tmp_path):
    with pytest.raises(UserError, match="cannot be downloaded here"):
        build_model_2d("resnet18_unet", 4, 4, encoder_weights=str(tmp_path / "resnet18.pth"))
    # a torchvision-style ResNet-18 state dict (3 input channels, fc head) is adapted to 4 MRI channels
    src = build_model_2d("resnet18_unet", 3, 4).encoder.state_dict()
    src["fc.weight"], src["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    torch.save(src, tmp_path / "resnet18.pth")
    net = build_model_2d("resnet18_unet", 4, 4, encoder_weights=str(tmp_path / "resnet18.pth"))
    assert torch.allclose(net.encoder.layer4[1].conv2.weight, src["layer4.1.conv2.weight"])
    assert net.encoder.conv1.weight.shape[1] == 4
    torch.save({"something": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(UserError, match="not a ResNet-18 state dict"):
        build_model_2d("resnet18_unet", 4, 4, encoder_weights=str(tmp_path / "other.pth"))
