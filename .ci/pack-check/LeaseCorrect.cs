// The consumer side of .ci/pack-check.sh's analyzer check: correct lease code, which the analyzer shipped in the
// NativeArrayPool package must leave without a single warning (the script builds it with -warnaserror).
using System.Collections.Concurrent;
using NativeBuffers;

NativeArrayPool<int> pool = NativeArrayPool<int>.Shared;
var parked = new ConcurrentBag<NativeBuffer<int>>();
Console.WriteLine(TryFinally(pool, 3) + Using(pool) + GrowThenReturn(pool, 100_000));
HandOff(pool, parked);
NativeBuffer<int> taken = Take(pool);
Console.WriteLine(taken.Length);
pool.Return(taken);
foreach (NativeBuffer<int> lease in parked)
    pool.Return(lease);

static int TryFinally(NativeArrayPool<int> pool, int n)
{
    NativeBuffer<int> buffer = pool.Rent(16);
    try
    {
        if (n < 0)
            throw new ArgumentOutOfRangeException(nameof(n));
        if (n == 0)
            return 0;
        buffer[0] = n;
        return buffer[0];
    }
    finally
    {
        pool.Return(buffer);
    }
}

static int Using(NativeArrayPool<int> pool)
{
    using NativeBuffer<int> buffer = pool.Rent(16);
    buffer.AsSpan().Fill(2);
    return buffer[15];
}

static int GrowThenReturn(NativeArrayPool<int> pool, int count)
{
    NativeBuffer<int> buffer = pool.Rent(16);
    Span<int> span = buffer.AsSpan();
    for (int i = 0; i < count; i++)
    {
        if (i == span.Length)
        {
            pool.Resize(ref buffer, buffer.Length * 2);
            span = buffer.AsSpan();
        }
        span[i] = i;
    }
    int last = buffer[count - 1];
    pool.Return(buffer);
    return last;
}

static void HandOff(NativeArrayPool<int> pool, ConcurrentBag<NativeBuffer<int>> parked)
{
    NativeBuffer<int> buffer = pool.Rent(16);
    parked.Add(buffer);
}

static NativeBuffer<int> Take(NativeArrayPool<int> pool)
{
    NativeBuffer<int> buffer = pool.Rent(8);
    buffer.AsSpan().Clear();
    return buffer;
}
