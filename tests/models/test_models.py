import pytest
import torch

from brats_mlops.models import MODELS, build_model
from brats_mlops.models.blocks import ConvBlock, SEBlock3d
from brats_mlops.models.unet import UNet3D

SMALL = (4, 8, 8, 16, 16)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_and_gradient_flow(name):
    torch.manual_seed(0)
    m = build_model(name, in_channels=2, num_classes=4, channels=SMALL)
    size = 32 if name.endswith("deeper") else 16
    x = torch.randn(2, 2, size, size, size, requires_grad=True)
    out, bott = m(x, return_bottleneck=True)
    assert out.shape == (2, 4, size, size, size)
    assert bott.ndim == 5 and bott.shape[0] == 2
    assert torch.equal(m.bottleneck(x), bott)
    out.square().mean().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert float(x.grad.abs().sum()) > 0
    # every convolution learns (SE MLPs with 1-2 hidden units may start with a dead ReLU at these tiny widths)
    convs = [mod for mod in m.modules() if isinstance(mod, (torch.nn.Conv3d, torch.nn.ConvTranspose3d))]
    assert convs and all(float(c.weight.grad.abs().sum()) > 0 for c in convs)


def test_unknown_model_lists_valid_ones():
    with pytest.raises(ValueError, match="valid models: .*res_se_unet"):
        build_model("resnet50", 4, 4)


def test_paper_architecture():
    m = build_model("res_se_unet", 4, 4)
    assert m.channels == (16, 32, 64, 128, 256)
    down = m.down[0][0]
    assert (down.kernel_size, down.stride, down.padding, down.in_channels, down.out_channels) == ((3,) * 3, (2,) * 3, (1,) * 3, 16, 32)
    up = m.up[0]
    assert (up.kernel_size, up.stride, up.in_channels, up.out_channels) == ((2,) * 3, (2,) * 3, 256, 128)
    assert isinstance(m.skip_se[0], SEBlock3d) and isinstance(m.dec_se[0], SEBlock3d)
    assert m.skip_se[0].fc1.out_features == 128 // 8
    assert m.in_block.norm1.num_groups == 8 and m.in_block.residual
    deeper = build_model("res_se_unet_deeper", 4, 4)
    assert deeper.channels[-1] == 320 and len(deeper.channels) == 6
    plain = build_model("unet3d", 4, 4)
    assert not plain.in_block.residual and isinstance(plain.down[0], torch.nn.MaxPool3d)


def test_se_block_matches_hand_computation():
    torch.manual_seed(1)
    se = SEBlock3d(4, reduction=2)
    x = torch.randn(1, 4, 3, 3, 3)
    s = x.mean(dim=(2, 3, 4))[0]
    h = torch.relu(se.fc1.weight @ s + se.fc1.bias)
    e = torch.sigmoid(se.fc2.weight @ h + se.fc2.bias)
    assert torch.allclose(se(x), x * e[None, :, None, None, None], atol=1e-6)


def test_residual_block_adds_its_input():
    b = ConvBlock(4, 4, groups=2, residual=True)
    for p in (b.conv2.weight,):
        torch.nn.init.zeros_(p)
    x = torch.randn(1, 4, 4, 4, 4)
    # with conv2 zero, the block reduces to relu(norm2(0) + x) = relu(beta + x) with beta = 0
    assert torch.allclose(b(x), torch.relu(x), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        SEBlock3d(8, reduction=0)
    with pytest.raises(ValueError, match="downsample"):
        UNet3D(downsample="avg")
