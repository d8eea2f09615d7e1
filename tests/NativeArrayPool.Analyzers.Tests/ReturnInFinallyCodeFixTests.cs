using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>The fix for NAP001: the statements after a leaked lease's declaration go into try, its Return into finally.</summary>
public class ReturnInFinallyCodeFixTests
{
    [Fact]
    public async Task A_lease_never_returned_gets_the_rest_of_its_block_wrapped()
    {
        await CodeFixHarness.VerifyFix("""
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    b[0] = 1;
                    return b[0];
                }
            }
            """, """
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    try
                    {
                        b[0] = 1;
                        return b[0];
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
    public async Task A_return_skipped_by_an_early_exit_moves_into_the_finally_block()
    {
        await CodeFixHarness.VerifyFix("""
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool, bool quick)
                {
                    var b = pool.Rent(16);
                    if (quick)
                        return 0;
                    b.AsSpan().Fill(1);
                    pool.Return(b, clearArray: true);
                    return 1;
                }
            }
            """, """
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool, bool quick)
                {
                    var b = pool.Rent(16);
                    try
                    {
                        if (quick)
                            return 0;
                        b.AsSpan().Fill(1);
                        return 1;
                    }
                    finally
                    {
                        pool.Return(b, clearArray: true);
                    }
                }
            }
            """);
    }

    [Fact]
    public async Task A_lease_of_the_shared_pool_in_a_loop_resized_on_the_way_is_returned_each_turn()
    {
        await CodeFixHarness.VerifyFix("""
            using NativeBuffers;
            class C
            {
                void M(int n)
                {
                    for (int i = 0; i < n; i++)
                    {
                        var b = NativeArrayPool<byte>.Shared.Rent(16);
                        NativeArrayPool<byte>.Shared.Resize(ref b, 64);
                        b.AsSpan().Clear();
                    }
                }
            }
            """, """
            using NativeBuffers;
            class C
            {
                void M(int n)
                {
                    for (int i = 0; i < n; i++)
                    {
                        var b = NativeArrayPool<byte>.Shared.Rent(16);
                        try
                        {
                            NativeArrayPool<byte>.Shared.Resize(ref b, 64);
                            b.AsSpan().Clear();
                        }
                        finally
                        {
                            NativeArrayPool<byte>.Shared.Return(b);
                        }
                    }
                }
            }
            """);
    }

    [Fact]
    public async Task The_fix_compiles_in_lambdas_local_functions_iterators_and_async_methods()
    {
        await CodeFixHarness.VerifyFix("""
            using System;
            using System.Collections.Generic;
            using System.IO;
            using System.Threading.Tasks;
            using NativeBuffers;
            class C
            {
                async Task<int> M(NativeArrayPool<byte> pool, Stream stream)
                {
                    var b = pool.Rent(4096);
                    int read = await stream.ReadAsync(b.AsMemory());
                    if (read == 0)
                        return 0;
                    return Twice(read);

                    static int Twice(int x) => x * 2;
                }
            }
            """, """
            using System;
            using System.Collections.Generic;
            using System.IO;
            using System.Threading.Tasks;
            using NativeBuffers;
            class C
            {
                async Task<int> M(NativeArrayPool<byte> pool, Stream stream)
                {
                    var b = pool.Rent(4096);
                    try
                    {
                        int read = await stream.ReadAsync(b.AsMemory());
                        if (read == 0)
                            return 0;
                        return Twice(read);
                    }
                    finally
                    {
                        pool.Return(b);
                    }

                    static int Twice(int x) => x * 2;
                }
            }
            """);

        await CodeFixHarness.VerifyFix("""
            using System.Collections.Generic;
            using NativeBuffers;
            class C
            {
                IEnumerable<int> M(NativeArrayPool<int> pool, int n)
                {
                    var b = pool.Rent(n);
                    for (int i = 0; i < n; i++)
                        yield return b[i];
                }
            }
            """, """
            using System.Collections.Generic;
            using NativeBuffers;
            class C
            {
                IEnumerable<int> M(NativeArrayPool<int> pool, int n)
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
            }
            """);

        await CodeFixHarness.VerifyFix("""
            using System;
            using NativeBuffers;
            class C
            {
                Func<int> M(NativeArrayPool<int> pool) => () =>
                {
                    var b = pool.Rent(1);
                    b[0] = 1;
                    return b[0];
                };
            }
            """, """
            using System;
            using NativeBuffers;
            class C
            {
                Func<int> M(NativeArrayPool<int> pool) => () =>
                {
                    var b = pool.Rent(1);
                    try
                    {
                        b[0] = 1;
                        return b[0];
                    }
                    finally
                    {
                        pool.Return(b);
                    }
                };
            }
            """);
    }

    [Theory]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            NativeBuffer<int> M(NativeArrayPool<int> pool, bool keep)
            {
                var b = pool.Rent(16);
                if (keep)
                    return b;
                b[0] = 1;
                return default;
            }
        }
        """)]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            void M(NativeArrayPool<byte> pool)
            {
                var b = pool.Rent(16);
                b = pool.Rent(32);
                pool.Return(b);
            }
        }
        """)]
    [InlineData("""
        using System;
        using NativeBuffers;
        class C
        {
            Span<int> M(NativeArrayPool<int> pool)
            {
                var b = pool.Rent(16);
                return b.AsSpan();
            }
        }
        """)]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            void M(NativeArrayPool<int> pool, NativeArrayPool<int> other)
            {
                var b = pool.Rent(16);
                pool = other;
                b[0] = 1;
            }
        }
        """)]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            NativeArrayPool<int> _pool = NativeArrayPool<int>.Shared;
            void Reset() => _pool = NativeArrayPool<int>.Create();
            void M()
            {
                var b = _pool.Rent(16);
                Reset();
                b[0] = 1;
            }
        }
        """)]
    // A local function that stays outside the try block but reads a local the try block now declares.
    [InlineData("""
        using NativeBuffers;
        class C
        {
            int M(NativeArrayPool<int> pool)
            {
                var b = pool.Rent(16);
                int seed = 5;
                b[0] = Next();
                return b[0];

                int Next() => seed + 1;
            }
        }
        """)]
    // The block's own Return names a local the try block now declares, or one assigned after the lease.
    [InlineData("""
        using NativeBuffers;
        class C
        {
            void M(NativeArrayPool<int> pool, bool quick)
            {
                var b = pool.Rent(16);
                if (quick)
                    return;
                bool clear = b[0] != 0;
                pool.Return(b, clear);
            }
        }
        """)]
    [InlineData("""
        using NativeBuffers;
        class C
        {
            void M(NativeArrayPool<int> pool, bool quick)
            {
                bool clear;
                var b = pool.Rent(16);
                if (quick)
                    return;
                clear = b[0] != 0;
                pool.Return(b, clear);
            }
        }
        """)]
    // Memory of the lease given to something that may keep it past the method: a constructor, a parameter of a
    // generic or object type (a collection), a task not awaited, or a lambda.
    [InlineData("""
        using System;
        using System.Collections.Generic;
        using NativeBuffers;
        class C
        {
            readonly Queue<Memory<byte>> _pending = new();
            void M(NativeArrayPool<byte> pool)
            {
                var b = pool.Rent(16);
                b.AsSpan().Fill(1);
                _pending.Enqueue(b.AsMemory());
            }
        }
        """)]
    [InlineData("""
        using System;
        using System.IO;
        using NativeBuffers;
        class C
        {
            Stream M(NativeArrayPool<byte> pool)
            {
                var b = pool.Rent(16);
                var memory = b.AsMemory();
                return new Reader(memory);
            }
            sealed class Reader(ReadOnlyMemory<byte> data) : MemoryStream { public ReadOnlyMemory<byte> Data => data; }
        }
        """)]
    [InlineData("""
        using System;
        using System.IO;
        using System.Threading.Tasks;
        using NativeBuffers;
        class C
        {
            Task M(NativeArrayPool<byte> pool, Stream stream)
            {
                var b = pool.Rent(16);
                return stream.WriteAsync(b.AsMemory()).AsTask();
            }
        }
        """)]
    [InlineData("""
        using System;
        using System.Threading.Tasks;
        using NativeBuffers;
        class C
        {
            Task M(NativeArrayPool<byte> pool)
            {
                var b = pool.Rent(16);
                Memory<byte> memory = b.AsMemory();
                return Task.Run(() => memory.Span.Clear());
            }
        }
        """)]
    public async Task No_fix_is_offered_where_the_lease_is_handed_off_overwritten_outlived_by_a_span_or_its_pool_may_change(string source)
    {
        await CodeFixHarness.VerifyNoFix(source);
    }
}
