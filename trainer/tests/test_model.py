import torch

from hima.depth import InputSideCut
from hima.app.model import GPT, gpt_config, padded_vocab


def test_vocab_is_padded_to_a_multiple_of_64():
    assert padded_vocab(50257) == 50304
    assert padded_vocab(4096) == 4096
    assert padded_vocab(1) == 64


def test_logits_shape_and_loss():
    model = GPT(gpt_config("tiny", vocab_size=100, block_size=32))
    torch.manual_seed(0)
    idx, targets = torch.randint(0, 100, (3, 32)), torch.randint(0, 100, (3, 32))
    logits, _ = model(idx)
    assert logits.shape == (3, 32, 128)  # 100 padded to 128
    _, loss = model(idx, targets)
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits.view(-1, 128), targets.view(-1)), atol=1e-5)
    # An untrained model predicts ~uniformly: loss near ln(vocab).
    assert abs(loss.item() - torch.log(torch.tensor(128.0)).item()) < 0.5


def test_embeddings_are_tied_and_registered_once():
    model = GPT(gpt_config("tiny", vocab_size=64, block_size=16))
    assert model.lm_head.weight is model.transformer.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names and names.count("transformer.wte.weight") == 1


def test_presets_have_gpt2_sizes():
    def n_params(preset: str) -> int:
        c = gpt_config(preset, 50257)
        per_block = 12 * c.n_embd**2 + 13 * c.n_embd
        return c.vocab_size * c.n_embd + c.block_size * c.n_embd + c.n_layer * per_block + 2 * c.n_embd

    assert 123e6 < n_params("small") < 126e6
    assert 350e6 < n_params("medium") < 360e6


def test_attention_is_causal():
    torch.manual_seed(0)
    model = GPT(gpt_config("tiny", vocab_size=64, block_size=16)).eval()
    a = torch.randint(0, 64, (1, 16))
    b = a.clone()
    b[0, 10:] = (b[0, 10:] + 1) % 64  # change only the future of position 9
    with torch.no_grad():
        la, _ = model(a)
        lb, _ = model(b)
    assert torch.allclose(la[0, :10], lb[0, :10], atol=1e-5)
    assert not torch.allclose(la[0, 10:], lb[0, 10:])


def test_chunked_loss_gives_the_plain_loss_and_gradients(monkeypatch):
    import hima.app.model as model_module

    monkeypatch.setattr(model_module, "LOSS_CHUNK_ROWS", 10)  # 3 x 16 rows: several chunks, a ragged last one
    torch.manual_seed(0)
    model = GPT(gpt_config("tiny", vocab_size=64, block_size=16))
    idx, targets = torch.randint(0, 64, (3, 16)), torch.randint(0, 64, (3, 16))
    _, loss = model(idx, targets)
    loss.backward()
    chunked = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    logits, _ = model(idx)
    plain = torch.nn.functional.cross_entropy(logits.view(-1, 64), targets.view(-1))
    plain.backward()
    assert torch.allclose(loss, plain, atol=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(chunked[name], p.grad, atol=1e-6), name


def test_frozen_head_gets_no_gradient_and_a_frozen_model_still_gives_the_loss():
    model = GPT(gpt_config("tiny", vocab_size=64, block_size=16))
    idx = torch.randint(0, 64, (2, 16))
    model.transformer.wte.weight.requires_grad_(False)
    _, loss = model(idx, idx)
    loss.backward()
    assert model.transformer.wte.weight.grad is None and model.transformer.h[0].mlp.c_fc.weight.grad is not None
    with torch.no_grad():
        _, loss = model(idx, idx)
    assert torch.isfinite(loss) and not loss.requires_grad


def test_cutting_the_input_side_stops_backward_at_the_lowest_trainable_block():
    torch.manual_seed(0)
    model = GPT(gpt_config("tiny", vocab_size=64, block_size=16))
    idx = torch.randint(0, 64, (2, 16))
    model.transformer.wpe.weight.requires_grad_(False)
    for p in model.transformer.h[0].parameters():
        p.requires_grad_(False)
    model(idx, idx)[1].backward()
    with_input = model.transformer.wte.weight.grad.clone()
    model.zero_grad()
    cut = InputSideCut([model.transformer.wte])
    cut.active = True
    _, loss = model(idx, idx)
    loss.backward()
    # The tied weight keeps lm_head's gradient and loses the input-side share; block 0 (frozen, with nothing
    # trainable below it) is no longer on the backward path at all.
    assert model.transformer.wte.weight.grad is not None
    assert not torch.allclose(with_input, model.transformer.wte.weight.grad)
    assert loss.grad_fn is not None and model.transformer.h[0].attn.c_attn.weight.grad is None
