using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>
/// Correct lease code in the shapes real programs have, which must draw no NAP diagnostic at all: a false alarm
/// costs more trust than a miss. Each method is one shape; a diagnostic anywhere fails the test and names the line.
/// </summary>
public class RealisticCodeTests
{
    [Fact]
    public void Leases_passed_on_kept_in_using_or_disposed_after_their_return_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                static long Sum(NativeBuffer<int> lease)
                {
                    long sum = 0;
                    foreach (int x in lease.AsSpan())
                        sum += x;
                    return sum;
                }

                long PassedByValueThenReturned(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    b.AsSpan().Fill(1);
                    long sum = Sum(b);
                    pool.Return(b);
                    return sum;
                }

                long UsingStatement(NativeArrayPool<int> pool)
                {
                    using (NativeBuffer<int> b = pool.Rent(16))
                    {
                        b.AsSpan().Fill(2);
                        return Sum(b);
                    }
                }

                void UsingThenReturnedExplicitly(NativeArrayPool<int> pool, int n)
                {
                    using var b = pool.Rent(n);
                    b.AsSpan().Clear();
                    pool.Return(b);
                }

                void UsingThenReturnedOnAnEarlyPath(NativeArrayPool<int> pool, int n)
                {
                    using var b = pool.Rent(n);
                    if (n > 100)
                    {
                        pool.Return(b, clearArray: true);
                        return;
                    }
                    b[0] = 1;
                }
            }
            """);
    }

    [Fact]
    public void Leases_returned_inside_loops_or_rented_one_per_turn_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using System.Collections.Generic;
            using System.IO;
            using NativeBuffers;
            class C
            {
                int ReturnedWhenTheLoopEnds(NativeArrayPool<byte> pool, Stream stream)
                {
                    var b = pool.Rent(4096);
                    int total = 0;
                    while (true)
                    {
                        int read = stream.Read(b.AsSpan());
                        if (read == 0)
                        {
                            pool.Return(b);
                            return total;
                        }
                        total += read;
                    }
                }

                void OnePerTurn(NativeArrayPool<byte> pool, IEnumerable<int> sizes)
                {
                    foreach (int size in sizes)
                    {
                        var b = pool.Rent(size);
                        try
                        {
                            if (size == 0)
                                continue;
                            if (size < 0)
                                break;
                            b.AsSpan().Fill(1);
                        }
                        finally
                        {
                            pool.Return(b);
                        }
                    }
                }

                void BreakAfterReturn(NativeArrayPool<byte> pool, int n)
                {
                    for (int i = 0; i < n; i++)
                    {
                        var b = pool.Rent(16);
                        b[0] = (byte)i;
                        pool.Return(b);
                        if (i == 3)
                            break;
                    }
                }

                void DoWhile(NativeArrayPool<byte> pool, Func<bool> more)
                {
                    NativeBuffer<byte> b;
                    do
                    {
                        b = pool.Rent(16);
                        b.AsSpan().Clear();
                        pool.Return(b);
                    }
                    while (more());
                }
            }
            """);
    }

    [Fact]
    public void Leases_stored_in_arrays_fields_tuples_collections_or_captures_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using System.Collections.Generic;
            using System.Threading.Tasks;
            using NativeBuffers;
            sealed class C : IDisposable
            {
                private NativeBuffer<int> _lease;
                private (NativeBuffer<int> Lease, int Used) _pair;
                private readonly Dictionary<int, NativeBuffer<int>> _byId = new();

                NativeBuffer<int>[] Array(NativeArrayPool<int> pool, int n)
                {
                    var leases = new NativeBuffer<int>[n];
                    for (int i = 0; i < n; i++)
                    {
                        var b = pool.Rent(16);
                        leases[i] = b;
                    }
                    return leases;
                }

                void Field(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    b[0] = 1;
                    _lease = b;
                }

                void Tuple(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    _pair = (b, 0);
                }

                (NativeBuffer<int>, int) TupleReturned(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    var pair = (b, 16);
                    return pair;
                }

                void Dictionary(NativeArrayPool<int> pool, int id)
                {
                    var b = pool.Rent(16);
                    if (!_byId.TryAdd(id, b))
                        pool.Return(b);
                }

                Task Captured(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    return Task.Run(() =>
                    {
                        try { b.AsSpan().Fill(3); }
                        finally { pool.Return(b); }
                    });
                }

                Func<int> CapturedByLocalFunction(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    return Read;
                    int Read()
                    {
                        int x = b[0];
                        pool.Return(b);
                        return x;
                    }
                }

                object Boxed(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    object o = b;
                    return o;
                }

                public void Dispose() => _lease.Dispose();
            }
            """);
    }

    [Fact]
    public void Leases_returned_in_catch_before_a_rethrow_or_on_early_failure_paths_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using System.IO;
            using NativeBuffers;
            class C
            {
                NativeBuffer<byte> Fill(NativeArrayPool<byte> pool, Stream stream)
                {
                    var b = pool.Rent(4096);
                    try
                    {
                        stream.ReadExactly(b.AsSpan());
                        return b;
                    }
                    catch
                    {
                        pool.Return(b);
                        throw;
                    }
                }

                void ReturnedInCatchThenAfter(NativeArrayPool<byte> pool, Stream stream)
                {
                    var b = pool.Rent(4096);
                    try
                    {
                        stream.Write(b.AsSpan());
                    }
                    catch (IOException e)
                    {
                        pool.Return(b);
                        throw new InvalidOperationException("write failed", e);
                    }
                    pool.Return(b);
                }

                void NotOk(NativeArrayPool<byte> pool, Func<NativeBuffer<byte>, bool> check)
                {
                    var b = pool.Rent(64);
                    bool ok = b.Length == 64;
                    if (!ok)
                    {
                        pool.Return(b);
                        return;
                    }
                    b[0] = 1;
                    pool.Return(b);
                }

                int EarlyReturns(NativeArrayPool<byte> pool, int n)
                {
                    var b = pool.Rent(64);
                    if (n < 0)
                    {
                        pool.Return(b);
                        throw new ArgumentOutOfRangeException(nameof(n));
                    }
                    if (n == 0)
                    {
                        b.Dispose();
                        return 0;
                    }
                    b[0] = (byte)n;
                    int first = b[0];
                    pool.Return(b);
                    return first;
                }

                void WhenFilter(NativeArrayPool<byte> pool, Stream stream)
                {
                    var b = pool.Rent(64);
                    try
                    {
                        stream.Write(b.AsSpan());
                    }
                    catch (IOException) when (stream.CanSeek)
                    {
                        stream.Position = 0;
                    }
                    finally
                    {
                        pool.Return(b);
                    }
                }
            }
            """);
    }

    [Fact]
    public void Switches_async_methods_iterators_and_local_functions_that_return_their_leases_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using System.Collections.Generic;
            using System.IO;
            using System.Threading.Tasks;
            using NativeBuffers;
            class C
            {
                int SwitchExpression(NativeArrayPool<int> pool, int kind)
                {
                    var b = pool.Rent(16);
                    b.AsSpan().Fill(kind);
                    int value = kind switch
                    {
                        0 => b[0],
                        1 => b[1] + 1,
                        _ => (int)b.Length,
                    };
                    pool.Return(b);
                    return value;
                }

                int SwitchStatement(NativeArrayPool<int> pool, int kind)
                {
                    var b = pool.Rent(16);
                    switch (kind)
                    {
                        case 0:
                            pool.Return(b);
                            return 0;
                        case 1:
                            b[0] = 1;
                            goto default;
                        default:
                            pool.Return(b);
                            return kind;
                    }
                }

                NativeBuffer<int> SwitchOnLength(NativeArrayPool<int> pool, int n) =>
                    n switch
                    {
                        0 => default,
                        _ => pool.Rent(n),
                    };

                async Task<int> AwaitBetween(NativeArrayPool<byte> pool, Stream stream)
                {
                    var b = pool.Rent(4096);
                    try
                    {
                        int read = await stream.ReadAsync(b.AsMemory());
                        await stream.WriteAsync(b.AsMemory(0, read));
                        return read;
                    }
                    finally
                    {
                        pool.Return(b);
                    }
                }

                async Task AwaitThenReturn(NativeArrayPool<byte> pool, Stream stream)
                {
                    var b = pool.Rent(4096);
                    await stream.WriteAsync(b.AsMemory());
                    await Task.Yield();
                    pool.Return(b);
                }

                IEnumerable<long> Iterator(NativeArrayPool<int> pool, int n)
                {
                    var b = pool.Rent(n);
                    try
                    {
                        for (int i = 0; i < n; i++)
                            yield return b[i];
                    }
                    finally
                    {
                        pool.Return(b);
                    }
                }

                int LocalFunctions(NativeArrayPool<int> pool)
                {
                    return Run(pool.Rent(16));

                    int Run(NativeBuffer<int> lease)
                    {
                        try { return Twice(lease); }
                        finally { pool.Return(lease); }
                    }

                    static int Twice(NativeBuffer<int> lease) => lease[0] * 2;
                }
            }
            """);
    }

    [Fact]
    public void Views_written_again_through_out_or_deconstruction_after_a_resize_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                static bool TryView(NativeBuffer<int> lease, out Memory<int> view)
                {
                    view = lease.AsMemory();
                    return true;
                }

                static (Memory<int>, int) ViewAndLength(NativeBuffer<int> lease) => (lease.AsMemory(), (int)lease.Length);

                void Out(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    Memory<int> view = b.AsMemory();
                    pool.Resize(ref b, 1 << 20);
                    if (TryView(b, out view))
                        view.Span[0] = 1;
                    pool.Return(b);
                }

                void Deconstructed(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    Memory<int> view = b.AsMemory();
                    int length;
                    pool.Resize(ref b, 1 << 20);
                    (view, length) = ViewAndLength(b);
                    view.Span[0] = length;
                    pool.Return(b);
                }
            }
            """);
    }

    [Fact]
    public void The_stackalloc_or_rent_pattern_locks_and_guarded_returns_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                private readonly object _gate = new();

                int StackallocOrRent(NativeArrayPool<byte> pool, int n)
                {
                    NativeBuffer<byte> rented = default;
                    Span<byte> scratch = n <= 256 ? stackalloc byte[256] : (rented = pool.Rent(n)).AsSpan();
                    try
                    {
                        scratch.Fill(1);
                        return scratch[0];
                    }
                    finally
                    {
                        if (!rented.IsEmpty)
                            pool.Return(rented);
                    }
                }

                void RentedInsideTheTry(NativeArrayPool<byte> pool, int n)
                {
                    NativeBuffer<byte> b = default;
                    try
                    {
                        b = pool.Rent(n);
                        b.AsSpan().Clear();
                    }
                    finally
                    {
                        if (b.IsValid)
                            pool.Return(b);
                    }
                }

                void UnderALock(NativeArrayPool<byte> pool)
                {
                    NativeBuffer<byte> b;
                    lock (_gate)
                    {
                        b = pool.Rent(16);
                        b[0] = 1;
                    }
                    pool.Return(b);
                }

                void ReturnedOrDisposed(NativeArrayPool<byte> pool, bool clear)
                {
                    var b = pool.Rent(16);
                    if (clear)
                        pool.Return(b, clearArray: true);
                    else
                        b.Dispose();
                }

                void Swapped(NativeArrayPool<byte> pool)
                {
                    var front = pool.Rent(16);
                    var back = pool.Rent(16);
                    (front, back) = (back, front);
                    pool.Return(front);
                    pool.Return(back);
                }
            }
            """);
    }

    [Fact]
    public void Odd_code_does_not_make_the_analyzer_throw()
    {
        // Generic methods, unsafe code, iterators, expression-bodied members, properties, operators, lambdas in field
        // initializers, records and stackalloc: the harness fails on AD0001 (the analyzer threw).
        AnalyzerHarness.Verify("""
            using System;
            using System.Collections.Generic;
            using NativeBuffers;
            public sealed record class Box<T>(NativeArrayPool<T> Pool) : IDisposable where T : unmanaged
            {
                private readonly Func<int> _probe = () => { var b = NativeArrayPool<int>.Shared.Rent(1); b.Dispose(); return 0; };
                public NativeBuffer<T> Lease { get; private set; } = Pool.Rent(1);
                public long Length => Lease.Length;
                public NativeBuffer<T> Fresh => Pool.Rent(4);
                public T this[int i] { get => Lease[i]; set => Lease[i] = value; }
                public static implicit operator Span<T>(Box<T> box) => box.Lease.AsSpan();
                public void Dispose() => Pool.Return(Lease);

                public static U Generic<U>(NativeArrayPool<U> pool, U value) where U : unmanaged
                {
                    var b = pool.Rent(1);
                    b[0] = value;
                    U read = b[0];
                    pool.Return(b);
                    return read;
                }

                public static unsafe long Unsafe(NativeArrayPool<byte> pool)
                {
                    var b = pool.Rent(64);
                    byte* p = b.Pointer;
                    Span<byte> scratch = stackalloc byte[8];
                    fixed (byte* q = b.AsSpan())
                    {
                        *q = 1;
                        p[1] = q[0];
                    }
                    long sum = p[0] + p[1] + scratch[0];
                    pool.Return(b);
                    return sum;
                }

                public static IEnumerable<byte> Iterator(NativeArrayPool<byte> pool)
                {
                    using var b = pool.Rent(2);
                    yield return b[0];
                    yield return b[1];
                }

                public static void ExpressionBodied(NativeArrayPool<byte> pool) => pool.Return(pool.Rent(1));
            }
            """);

        AnalyzerHarness.Verify("""
            using NativeBuffers;
            var pool = NativeArrayPool<int>.Shared;
            using var b = pool.Rent(4);
            b[0] = args.Length;
            System.Console.WriteLine(Twice(b));
            static int Twice(NativeBuffer<int> lease) => lease[0] * 2;
            """, Microsoft.CodeAnalysis.OutputKind.ConsoleApplication);
    }
}
