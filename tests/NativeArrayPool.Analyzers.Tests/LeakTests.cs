using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>NAP001: a rented lease neither returned, disposed nor handed off on some path.</summary>
public class LeakTests
{
    [Fact]
    public void A_lease_never_returned_is_reported_at_its_rent()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16); // NAP001
                    b[0] = 1;
                    return b[0];
                }
            }
            """);
    }

    [Fact]
    public void An_early_return_that_skips_the_return_is_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                int M(NativeArrayPool<int> pool, bool quick)
                {
                    var b = pool.Rent(16); // NAP001
                    if (quick)
                        return 0;
                    b.AsSpan().Fill(1);
                    pool.Return(b);
                    return 1;
                }
            }
            """);
    }

    [Fact]
    public void A_lease_returned_in_one_branch_only_is_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                void M(NativeArrayPool<int> pool, bool done)
                {
                    var b = pool.Rent(16); // NAP001
                    if (done)
                        pool.Return(b);
                }
            }
            """);
    }

    [Fact]
    public void A_lease_rented_in_a_loop_and_dropped_each_turn_is_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                void M(NativeArrayPool<byte> pool, int n)
                {
                    for (int i = 0; i < n; i++)
                    {
                        var b = pool.Rent(16); // NAP001
                        b.AsSpan().Clear();
                    }
                }
            }
            """);
    }

    [Fact]
    public void Overwriting_a_live_lease_is_reported_at_the_first_rent()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                void M(NativeArrayPool<byte> pool)
                {
                    var b = pool.Rent(16); // NAP001
                    b = pool.Rent(32);
                    pool.Return(b);
                }
            }
            """);
    }

    [Fact]
    public void A_throw_outside_any_try_that_skips_the_return_is_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                void M(NativeArrayPool<byte> pool, int n)
                {
                    var b = pool.Rent(16); // NAP001
                    if (n < 0)
                        throw new ArgumentOutOfRangeException(nameof(n));
                    pool.Return(b);
                }
            }
            """);
    }

    [Fact]
    public void Leaks_past_an_endless_loop_left_by_break_or_through_a_throwing_switch_arm_are_still_reported()
    {
        // The paths no execution takes (the false branch of `while (true)`, a switch expression's no-match throw) are
        // left out; the ones the code writes (a break, a throw in an arm) are not.
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                void Break(NativeArrayPool<int> pool, Func<bool> done)
                {
                    var b = pool.Rent(16); // NAP001
                    while (true)
                    {
                        if (done())
                            break;
                        b[0]++;
                    }
                }

                int ThrowingArm(NativeArrayPool<int> pool, int kind)
                {
                    var b = pool.Rent(16); // NAP001
                    int value = kind switch
                    {
                        0 => b[0],
                        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
                    };
                    pool.Return(b);
                    return value;
                }
            }
            """);
    }

    [Fact]
    public void Leaks_in_lambdas_local_functions_constructors_and_top_level_code_are_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                C(NativeArrayPool<byte> pool)
                {
                    var b = pool.Rent(16); // NAP001
                    b[0] = 1;
                }

                void M(NativeArrayPool<byte> pool)
                {
                    Action a = () => { var b = pool.Rent(1); b[0] = 1; }; // NAP001
                    a();
                    Local();
                    void Local()
                    {
                        var b = pool.Rent(1); // NAP001
                        b[0] = 2;
                    }
                }
            }
            """);
    }

    [Fact]
    public void Leaks_in_top_level_statements_are_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            var pool = NativeArrayPool<int>.Shared;
            var b = pool.Rent(16); // NAP001
            b[0] = 1;
            var c = pool.Rent(16);
            c[0] = 2;
            pool.Return(c);
            """, Microsoft.CodeAnalysis.OutputKind.ConsoleApplication);
    }

    [Fact]
    public void Returned_disposed_using_and_finally_leases_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                void Finally(NativeArrayPool<int> pool, bool stop)
                {
                    var b = pool.Rent(16);
                    try
                    {
                        if (stop)
                            return;
                        if (b.Length < 0)
                            throw new InvalidOperationException();
                        b.AsSpan().Fill(1);
                    }
                    finally
                    {
                        pool.Return(b);
                    }
                }

                int Using(NativeArrayPool<int> pool)
                {
                    using var b = pool.Rent(16);
                    b[0] = 3;
                    return b[0];
                }

                void UsingBlock(NativeArrayPool<int> pool)
                {
                    using (var b = pool.Rent(16))
                        b[0] = 3;
                }

                void Disposed(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    b[0] = 1;
                    b.Dispose();
                }

                void ResizedThenReturned(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    for (int i = 0; i < 4; i++)
                        pool.Resize(ref b, b.Length * 2);
                    pool.Return(b);
                }

                void Loop(NativeArrayPool<int> pool, int n)
                {
                    for (int i = 0; i < n; i++)
                    {
                        var b = pool.Rent(16);
                        try { b[0] = i; }
                        finally { pool.Return(b); }
                    }
                }
            }
            """);
    }

    [Fact]
    public void Leases_handed_off_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using System.Collections.Generic;
            using NativeBuffers;
            class Holder : IDisposable
            {
                private NativeBuffer<int> _lease;
                private readonly NativeBuffer<int>[] _leases = new NativeBuffer<int>[1];
                private readonly List<NativeBuffer<int>> _list = new();

                NativeBuffer<int> Returned(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    b[0] = 1;
                    return b;
                }

                void Stored(NativeArrayPool<int> pool)
                {
                    var a = pool.Rent(16);
                    _lease = a;
                    var b = pool.Rent(16);
                    _leases[0] = b;
                    var c = pool.Rent(16);
                    _list.Add(c);
                }

                void Passed(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    Consume(b);
                }

                void Captured(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    Action release = () => pool.Return(b);
                    release();
                }

                void Copied(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    var c = b;
                    pool.Return(c);
                }

                void ReturnedInCatchOnly(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    try { Consume(b); }
                    catch { pool.Return(b); throw; }
                }

                static void Consume(NativeBuffer<int> lease) => lease.Dispose();

                public void Dispose() => _lease.Dispose();
            }
            """);
    }

    [Fact]
    public void Paths_the_analysis_cannot_tell_apart_stay_silent()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                // A flag decides in two places: one of the four paths the graph has is infeasible.
                void Flag(NativeArrayPool<int> pool, bool keep)
                {
                    var b = pool.Rent(16);
                    if (keep)
                        Keep(b);
                    if (!keep)
                        pool.Return(b);
                }

                static void Keep(NativeBuffer<int> b) { }
            }
            """);
    }

    [Fact]
    public void Shapes_the_analysis_does_not_follow_count_as_hand_offs()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class C
            {
                void Conditional(NativeArrayPool<int> pool, bool big)
                {
                    var b = big ? pool.Rent(1 << 20) : pool.Rent(16);
                    b[0] = 1;
                }

                void Pattern(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    if (b is { Length: > 0 } copy)
                        pool.Return(copy);
                }

                void Previous(NativeArrayPool<int> pool, int n)
                {
                    NativeBuffer<int> previous = default;
                    for (int i = 0; i < n; i++)
                    {
                        var current = pool.Rent(16);
                        if (i > 0)
                            pool.Return(previous);
                        previous = current;
                    }
                    if (n > 0)
                        pool.Return(previous);
                }

                void ByRef(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    Release(pool, ref b);
                }

                unsafe void Address(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    NativeBuffer<int>* p = &b;
                    pool.Return(*p);
                    b[0] = 1;
                }

                static void Release(NativeArrayPool<int> pool, ref NativeBuffer<int> b) => pool.Return(b);
            }
            """);
    }
}
