# Peer on the same GPU: PyTorch fp32 matmul with TF32 off (true fp32), median of 20 after warm-up.
import json, torch
torch.backends.cuda.matmul.allow_tf32 = False
dev = torch.device("cuda")
name = torch.cuda.get_device_name(0)
for (m, n, k) in [(1024,)*3, (2048,)*3, (4096,)*3, (16, 144, 65536)]:
    a = torch.randn(m, k, device=dev); b = torch.randn(k, n, device=dev)
    for _ in range(5): a @ b
    torch.cuda.synchronize()
    ts = []
    for _ in range(20):
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record(); a @ b; e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
    ts.sort(); ms = ts[10]
    print(json.dumps({"kernel": "matmul", "shape": f"{m}x{n}x{k}", "device": name + " (torch cuBLAS)", "backend": "cuda", "variant": "fp32_no_tf32", "median_ms": ms, "gflops": 2*m*n*k/ms/1e6, "gbps": 4*(m*k+k*n+m*n)/ms/1e6}))
