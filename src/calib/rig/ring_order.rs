//! The rig order of cameras given in any order: the cycle through all cameras whose neighbours
//! share the most verified matches.
//!
//! That is the travelling salesman's problem with similarities for distances (a maximum-weight
//! Hamiltonian cycle). A rig has at most a few hundred cameras and a clear structure (each
//! camera matches its two neighbours far better than the rest), so the classic heuristics
//! suffice: the greedy edge construction (take the strongest links first, never a third link
//! at a camera nor one that closes a cycle early), then 2-opt moves until none helps (Croes,
//! "A method for solving traveling-salesman problems", Operations Research 1958). COLMAP and
//! other structure-from-motion tools need no order because they match every pair; the rig
//! calibration does need one (neighbours, the ring's closure, the spacing), and finds it from
//! the same all-pairs matches.

/// The cycle through cameras `0..n` maximising the sum of `weight(a, b)` over neighbours,
/// starting at camera 0 and going on to the neighbour with the smaller index. `weight` must be
/// symmetric.
pub fn ring_order(n: usize, weight: &dyn Fn(usize, usize) -> f64) -> Vec<usize> {
    if n <= 3 {
        return (0..n).collect();
    }
    let mut edges: Vec<(f64, usize, usize)> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .map(|(a, b)| (weight(a, b), a, b))
        .collect();
    edges.sort_by(|x, y| y.0.total_cmp(&x.0));
    // Greedy: the strongest links that keep every camera at two links at most and close no
    // cycle before the last.
    let mut fragment: Vec<usize> = (0..n).collect();
    fn root(f: &mut [usize], mut c: usize) -> usize {
        while f[c] != c {
            f[c] = f[f[c]];
            c = f[c];
        }
        c
    }
    let mut links: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut added = 0;
    for &(_, a, b) in &edges {
        if added + 1 == n {
            break;
        }
        if links[a].len() == 2 || links[b].len() == 2 {
            continue;
        }
        let (ra, rb) = (root(&mut fragment, a), root(&mut fragment, b));
        if ra == rb {
            continue;
        }
        fragment[ra] = rb;
        links[a].push(b);
        links[b].push(a);
        added += 1;
    }
    // The links form one path through all cameras: walk it from one end.
    let start = (0..n)
        .find(|&c| links[c].len() < 2)
        .expect("a path has ends");
    let mut order = vec![start];
    let mut prev = usize::MAX;
    let mut cur = start;
    while let Some(&next) = links[cur].iter().find(|&&c| c != prev) {
        order.push(next);
        (prev, cur) = (cur, next);
    }
    debug_assert_eq!(order.len(), n);
    two_opt(&mut order, weight);
    // Canonical start and direction.
    let z = order.iter().position(|&c| c == 0).expect("camera 0");
    order.rotate_left(z);
    if order[n - 1] < order[1] {
        order[1..].reverse();
    }
    order
}

/// Reverses stretches of the cycle `order` while that raises its summed weight.
fn two_opt(order: &mut [usize], weight: &dyn Fn(usize, usize) -> f64) {
    let n = order.len();
    // Each pass is O(n^2) and strictly improves: a few passes at most in practice.
    for _ in 0..100 {
        let mut improved = false;
        for i in 0..n - 1 {
            for j in i + 2..n {
                let (a, b) = (order[i], order[i + 1]);
                let (c, d) = (order[j], order[(j + 1) % n]);
                if d == a {
                    continue;
                }
                let gain = weight(a, c) + weight(b, d) - weight(a, b) - weight(c, d);
                if gain > 1e-9 {
                    order[i + 1..=j].reverse();
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// The weakest link of the cycle `order`: the index `k` such that the link from `order[k]` to
/// the next camera is the weakest (where an arc's ends meet).
pub fn weakest_link(order: &[usize], weight: &dyn Fn(usize, usize) -> f64) -> usize {
    let n = order.len();
    (0..n)
        .min_by(|&x, &y| {
            let w = |k: usize| weight(order[k], order[(k + 1) % n]);
            w(x).total_cmp(&w(y))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring of `n` in the hidden order `truth`: neighbours share many matches, cameras two
    /// apart fewer, the rest a little noise.
    fn ring_weights(truth: &[usize]) -> impl Fn(usize, usize) -> f64 + '_ {
        let n = truth.len();
        move |a, b| {
            let pa = truth.iter().position(|&c| c == a).unwrap();
            let pb = truth.iter().position(|&c| c == b).unwrap();
            let d = pa.abs_diff(pb).min(n - pa.abs_diff(pb));
            let noise = ((a * 7 + b * 13) % 5) as f64;
            match d {
                1 => 100.0 + noise * 10.0,
                2 => 40.0 + noise,
                _ => noise * 4.0,
            }
        }
    }

    #[test]
    fn a_shuffled_ring_comes_back_in_order() {
        // A fixed shuffle of 24 cameras (multiplication by 7 modulo 24, a permutation).
        let truth: Vec<usize> = (0..24).map(|k| (k * 7 + 3) % 24).collect();
        let w = ring_weights(&truth);
        let order = ring_order(24, &w);
        // The same cycle, read from camera 0 one way or the other.
        let z = truth.iter().position(|&c| c == 0).unwrap();
        let fwd: Vec<usize> = (0..24).map(|k| truth[(z + k) % 24]).collect();
        let bwd: Vec<usize> = (0..24).map(|k| truth[(z + 24 - k) % 24]).collect();
        assert!(order == fwd || order == bwd, "{order:?} vs {fwd:?}");
        assert_eq!(order[0], 0);
        assert!(order[1] < order[23]);
    }

    #[test]
    fn an_arc_is_cut_where_its_ends_meet() {
        // An arc of 10: the ends share nothing.
        let truth: Vec<usize> = vec![4, 9, 2, 7, 0, 5, 1, 8, 3, 6];
        let pos = |c: usize| truth.iter().position(|&t| t == c).unwrap();
        let w = |a: usize, b: usize| {
            let d = pos(a).abs_diff(pos(b));
            if d == 1 {
                100.0 - (pos(a).min(pos(b)) as f64)
            } else {
                0.0
            }
        };
        let order = ring_order(10, &w);
        let k = weakest_link(&order, &w);
        let mut arc = order.clone();
        arc.rotate_left(k + 1);
        assert!(arc == truth || arc.iter().rev().copied().collect::<Vec<_>>() == truth);
    }
}
