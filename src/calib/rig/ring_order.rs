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
//!
//! An arc's order is a path, not a cycle, and the neighbours' matches alone mislead there
//! (see [`arc_order`]): it is the linear arrangement of the cameras that keeps the most
//! matches between near cameras, from the greedy path improved by moving one camera at a time.

/// The cycle through cameras `0..n` maximising the sum of `weight(a, b)` over neighbours,
/// starting at camera 0 and going on to the neighbour with the smaller index. `weight` must be
/// symmetric.
pub fn ring_order(n: usize, weight: &dyn Fn(usize, usize) -> f64) -> Vec<usize> {
    if n <= 3 {
        return (0..n).collect();
    }
    let mut order = greedy_path(n, weight);
    two_opt(&mut order, weight);
    // Canonical start and direction.
    let z = order.iter().position(|&c| c == 0).expect("camera 0");
    order.rotate_left(z);
    if order[n - 1] < order[1] {
        order[1..].reverse();
    }
    order
}

/// The greedy edge construction: the strongest links that keep every camera at two links at
/// most and close no cycle, walked from one end of the path they form.
fn greedy_path(n: usize, weight: &dyn Fn(usize, usize) -> f64) -> Vec<usize> {
    let mut edges: Vec<(f64, usize, usize)> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .map(|(a, b)| (weight(a, b), a, b))
        .collect();
    edges.sort_by(|x, y| y.0.total_cmp(&x.0));
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

/// The path through cameras `0..n` that an arc's cameras lie along: the linear arrangement
/// that minimises the matches across every gap between neighbouring cameras, summed over the
/// gaps (equally, every pair's matches times the pair's distance in the order). Starts at the
/// end with the smaller index. `weight` must be symmetric.
///
/// The cycle of [`ring_order`] cut at its weakest link, or any path maximising the matches
/// of neighbours alone, is wrong for a jittered arc: a camera aimed off the subject shares
/// fewer matches with both neighbours than they share with the cameras beyond, so the
/// strongest path swaps it with one of them (cameras 3 and 4 of a 12-camera arc over 90
/// degrees: 232 matches between them, 136 and 106 with camera 2, 118 and 79 with camera 5;
/// the path 1 2 4 3 5 scores 9 more than the true one). The arrangement weighs every pair, so
/// cameras two and three apart place such a camera. It starts from the greedy path and moves
/// one camera at a time while that lowers the cost. What the counts cannot tell is which of
/// the last two cameras is the end, where both match the rest alike.
pub fn arc_order(n: usize, weight: &dyn Fn(usize, usize) -> f64) -> Vec<usize> {
    if n <= 2 {
        return (0..n).collect();
    }
    let mut order = greedy_path(n, weight);
    // Each accepted move strictly lowers the cost; the cap only guards against float noise.
    for _ in 0..10 * n {
        let forward = best_move(&order, weight);
        // Moves towards the start: the same search on the path read backwards.
        let reversed: Vec<usize> = order.iter().rev().copied().collect();
        let backward = best_move(&reversed, weight).map(|(g, f, t)| (g, n - 1 - f, n - 1 - t));
        let Some((_, from, to)) = [forward, backward]
            .into_iter()
            .flatten()
            .max_by(|x, y| x.0.total_cmp(&y.0))
        else {
            break;
        };
        let c = order.remove(from);
        order.insert(to, c);
    }
    if order[n - 1] < order[0] {
        order.reverse();
    }
    order
}

/// The best single move of a camera further along the path `order` for the cost of
/// [`arc_order`]: (gain, from, to), where the camera at `from` is to be removed and inserted at
/// `to > from`. None where no move gains. O(n^2).
fn best_move(order: &[usize], weight: &dyn Fn(usize, usize) -> f64) -> Option<(f64, usize, usize)> {
    let n = order.len();
    // prefix[c][k]: the matches of camera c with the first k cameras of the path.
    let prefix: Vec<Vec<f64>> = (0..n)
        .map(|c| {
            let mut p = vec![0.0; n + 1];
            for k in 0..n {
                let w = if order[k] == c {
                    0.0
                } else {
                    weight(c, order[k])
                };
                p[k + 1] = p[k] + w;
            }
            p
        })
        .collect();
    let mut best: Option<(f64, usize, usize)> = None;
    for from in 0..n {
        let c = order[from];
        let total_c = prefix[c][n];
        // Slide c past each following camera y in turn: c's neighbours on the left gain a
        // step, those on the right lose one, and the reverse for y.
        let mut delta = 0.0;
        for k in from + 1..n {
            let y = order[k];
            let left_c = prefix[c][k];
            let right_c = total_c - left_c - weight(c, y);
            let left_y = prefix[y][k] - weight(y, c);
            let right_y = prefix[y][n] - prefix[y][k + 1];
            delta += left_c - left_y - right_c + right_y;
            if delta < -1e-9 && best.is_none_or(|b| -delta > b.0) {
                best = Some((-delta, from, k));
            }
        }
    }
    best
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
    fn an_arc_comes_back_from_its_lower_end() {
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
        assert_eq!(arc_order(10, &w), truth);
    }

    #[test]
    fn a_jittered_arc_is_not_reordered_by_its_strongest_links() {
        // The verified matches of `timeslice samples --cameras 12 --layout arc --arc-degrees 90
        // --size 960x540 --aim-jitter 3 --roll-jitter 2 --seed 7 --stills`, its cameras given
        // shuffled: cam08 cam06 cam03 cam05 cam12 cam04 cam07 cam01 cam11 cam10 cam09 cam02.
        // The path of the strongest links, and the cycle cut at its weakest link, put cam04
        // before cam03 (1713 matches between neighbours, the true order 1704).
        #[rustfmt::skip]
        let m: [[u32; 12]; 12] = [
            [0, 134, 33, 62, 53, 36, 105, 0, 67, 151, 122, 13],
            [134, 0, 72, 154, 0, 52, 156, 20, 19, 37, 81, 29],
            [33, 72, 0, 118, 0, 232, 86, 87, 0, 0, 16, 136],
            [62, 154, 118, 0, 0, 79, 83, 25, 0, 17, 31, 60],
            [53, 0, 0, 0, 0, 0, 15, 0, 169, 49, 32, 0],
            [36, 52, 232, 79, 0, 0, 94, 43, 0, 0, 23, 106],
            [105, 156, 86, 83, 15, 94, 0, 10, 23, 66, 100, 33],
            [0, 20, 87, 25, 0, 43, 10, 0, 0, 0, 0, 138],
            [67, 19, 0, 0, 169, 0, 23, 0, 0, 128, 77, 0],
            [151, 37, 0, 17, 49, 0, 66, 0, 128, 0, 285, 0],
            [122, 81, 16, 31, 32, 23, 100, 0, 77, 285, 0, 0],
            [13, 29, 136, 60, 0, 106, 33, 138, 0, 0, 0, 0],
        ];
        let w = |a: usize, b: usize| m[a][b] as f64;
        // cam12 .. cam01: the arc from its end with the smaller index.
        assert_eq!(
            arc_order(12, &w),
            vec![4, 8, 9, 10, 0, 6, 1, 3, 5, 2, 11, 7]
        );
    }
}
