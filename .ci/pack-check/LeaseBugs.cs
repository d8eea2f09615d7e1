// The consumer side of .ci/pack-check.sh's analyzer check: each of the four lease bugs the analyzer shipped in
// the NativeArrayPool package must flag, on the line that ends with its id and on no other. Built, never run.
using NativeBuffers;

NativeArrayPool<int> pool = NativeArrayPool<int>.Shared;
Console.WriteLine(Leak(pool, 1) + UseAfterReturn(pool) + StaleAfterResize(pool));
ReturnTwice(pool);

static int Leak(NativeArrayPool<int> pool, int n)
{
    NativeBuffer<int> buffer = pool.Rent(n); // NAP001
    if (n > 100)
        return 0;
    buffer[0] = n;
    pool.Return(buffer);
    return 1;
}

static int UseAfterReturn(NativeArrayPool<int> pool)
{
    NativeBuffer<int> buffer = pool.Rent(16);
    buffer.AsSpan().Fill(7);
    pool.Return(buffer);
    return buffer[0]; // NAP002
}

static int StaleAfterResize(NativeArrayPool<int> pool)
{
    NativeBuffer<int> buffer = pool.Rent(16);
    Span<int> span = buffer.AsSpan();
    pool.Resize(ref buffer, 1 << 20);
    span[0] = 1; // NAP003
    pool.Return(buffer);
    return 0;
}

static void ReturnTwice(NativeArrayPool<int> pool)
{
    NativeBuffer<int> buffer = pool.Rent(16);
    try
    {
        buffer[0] = 1;
        pool.Return(buffer);
    }
    finally
    {
        pool.Return(buffer); // NAP004
    }
}
