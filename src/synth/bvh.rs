//! A small bounding-volume hierarchy over the scene's bounded objects, so a ray tests a few
//! boxes instead of every object (the scene has a few dozen objects and every pixel casts
//! several primary and shadow rays). Unbounded shapes (ground, backdrop) are not in it.
//!
//! The traversal returns the nearest hit whatever the visiting order, and the order depends
//! only on the ray, so results stay deterministic and identical between a full render and a
//! partial re-render.

use nalgebra::{Point3, Vector3};

/// An axis-aligned box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aabb {
    pub min: Point3<f64>,
    pub max: Point3<f64>,
}

impl Aabb {
    fn empty() -> Self {
        Aabb {
            min: Point3::from(Vector3::repeat(f64::INFINITY)),
            max: Point3::from(Vector3::repeat(f64::NEG_INFINITY)),
        }
    }

    fn union(&self, o: &Aabb) -> Aabb {
        Aabb {
            min: self.min.inf(&o.min),
            max: self.max.sup(&o.max),
        }
    }

    fn centre(&self) -> Point3<f64> {
        nalgebra::center(&self.min, &self.max)
    }

    /// Entry distance of the ray into the box if it enters before `t_max` (slab test).
    /// `inv` is the componentwise reciprocal of the direction.
    #[inline]
    fn entry(&self, origin: &Point3<f64>, inv: &Vector3<f64>, t_max: f64) -> Option<f64> {
        let mut t0 = 0.0f64;
        let mut t1 = t_max;
        for i in 0..3 {
            let a = (self.min[i] - origin[i]) * inv[i];
            let b = (self.max[i] - origin[i]) * inv[i];
            // `f64::min`/`max` drop a NaN operand (a ray parallel to and exactly on a face),
            // which leaves that axis unconstrained: conservative.
            t0 = t0.max(a.min(b));
            t1 = t1.min(a.max(b));
        }
        (t0 <= t1).then_some(t0)
    }
}

#[derive(Clone, Copy, Debug)]
struct Node {
    bounds: Aabb,
    /// Leaf: first index into `Bvh::items`; inner: index of the left child (right = +1).
    start: u32,
    /// Number of items in a leaf; 0 for an inner node.
    count: u32,
}

/// The hierarchy: nodes over a permutation of item indices.
#[derive(Clone, Debug, Default)]
pub struct Bvh {
    nodes: Vec<Node>,
    items: Vec<usize>,
}

const LEAF_SIZE: usize = 2;
const MAX_DEPTH: usize = 64;

impl Bvh {
    /// Builds over `(item index, bounds)` pairs by median splits along the widest axis.
    pub fn build(boxes: &[(usize, Aabb)]) -> Self {
        let mut bvh = Bvh::default();
        if boxes.is_empty() {
            return bvh;
        }
        let mut work: Vec<(usize, Aabb)> = boxes.to_vec();
        bvh.nodes.push(Node {
            bounds: Aabb::empty(),
            start: 0,
            count: 0,
        });
        bvh.split(0, &mut work, 0);
        bvh
    }

    fn split(&mut self, node: usize, work: &mut [(usize, Aabb)], depth: usize) {
        let bounds = work.iter().fold(Aabb::empty(), |b, (_, a)| b.union(a));
        if work.len() <= LEAF_SIZE || depth + 1 >= MAX_DEPTH {
            self.nodes[node] = Node {
                bounds,
                start: self.items.len() as u32,
                count: work.len() as u32,
            };
            self.items.extend(work.iter().map(|(i, _)| *i));
            return;
        }
        let centres = work.iter().fold(Aabb::empty(), |b, (_, a)| {
            b.union(&Aabb {
                min: a.centre(),
                max: a.centre(),
            })
        });
        let extent = centres.max - centres.min;
        let axis = extent.imax();
        // Ties broken by item index, so the tree does not depend on the sort's stability.
        work.sort_by(|(i, a), (j, b)| a.centre()[axis].total_cmp(&b.centre()[axis]).then(i.cmp(j)));
        let mid = work.len() / 2;
        let left = self.nodes.len();
        let blank = Node {
            bounds: Aabb::empty(),
            start: 0,
            count: 0,
        };
        self.nodes.push(blank);
        self.nodes.push(blank);
        self.nodes[node] = Node {
            bounds,
            start: left as u32,
            count: 0,
        };
        let (lo, hi) = work.split_at_mut(mid);
        self.split(left, lo, depth + 1);
        self.split(left + 1, hi, depth + 1);
    }

    /// Calls `hit(item, t_max)` for every item whose box the ray enters before the current
    /// `t_max`; `hit` returns the new limit (smaller when it found a nearer hit). Returns the
    /// final limit.
    #[inline]
    pub fn nearest(
        &self,
        origin: &Point3<f64>,
        dir: &Vector3<f64>,
        mut t_max: f64,
        mut hit: impl FnMut(usize, f64) -> f64,
    ) -> f64 {
        if self.nodes.is_empty() {
            return t_max;
        }
        let inv = dir.map(|d| 1.0 / d);
        let mut stack = [0u32; MAX_DEPTH + 1];
        let mut top = 0;
        if self.nodes[0].bounds.entry(origin, &inv, t_max).is_none() {
            return t_max;
        }
        stack[0] = 0;
        top += 1;
        while top > 0 {
            top -= 1;
            let node = &self.nodes[stack[top] as usize];
            if node.count > 0 {
                let s = node.start as usize;
                for &item in &self.items[s..s + node.count as usize] {
                    t_max = hit(item, t_max);
                }
                continue;
            }
            // Push the farther child first so the nearer one is visited first and shrinks
            // t_max for the other.
            let (l, r) = (node.start as usize, node.start as usize + 1);
            let tl = self.nodes[l].bounds.entry(origin, &inv, t_max);
            let tr = self.nodes[r].bounds.entry(origin, &inv, t_max);
            match (tl, tr) {
                (Some(a), Some(b)) => {
                    let (near, far) = if a <= b { (l, r) } else { (r, l) };
                    stack[top] = far as u32;
                    stack[top + 1] = near as u32;
                    top += 2;
                }
                (Some(_), None) => {
                    stack[top] = l as u32;
                    top += 1;
                }
                (None, Some(_)) => {
                    stack[top] = r as u32;
                    top += 1;
                }
                (None, None) => {}
            }
        }
        t_max
    }

    /// True if `test(item)` holds for some item whose box the ray enters before `t_max`.
    #[inline]
    pub fn any(
        &self,
        origin: &Point3<f64>,
        dir: &Vector3<f64>,
        t_max: f64,
        mut test: impl FnMut(usize) -> bool,
    ) -> bool {
        if self.nodes.is_empty() {
            return false;
        }
        let inv = dir.map(|d| 1.0 / d);
        let mut stack = [0u32; MAX_DEPTH + 1];
        stack[0] = 0;
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let node = &self.nodes[stack[top] as usize];
            if node.bounds.entry(origin, &inv, t_max).is_none() {
                continue;
            }
            if node.count > 0 {
                let s = node.start as usize;
                if self.items[s..s + node.count as usize]
                    .iter()
                    .any(|&i| test(i))
                {
                    return true;
                }
                continue;
            }
            stack[top] = node.start;
            stack[top + 1] = node.start + 1;
            top += 2;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube(i: usize, x: f64, y: f64, z: f64) -> (usize, Aabb) {
        let c = Point3::new(x, y, z);
        (
            i,
            Aabb {
                min: c - Vector3::repeat(0.5),
                max: c + Vector3::repeat(0.5),
            },
        )
    }

    #[test]
    fn visits_every_box_the_ray_enters_and_finds_the_nearest() {
        let boxes: Vec<_> = (0..20)
            .map(|i| cube(i, (i % 5) as f64 * 2.0, (i / 5) as f64 * 2.0, 0.0))
            .collect();
        let bvh = Bvh::build(&boxes);
        let origin = Point3::new(-3.0, 2.0, 0.1);
        let dir = Vector3::new(1.0, 0.05, 0.0).normalize();
        let inv = dir.map(|d| 1.0 / d);
        let mut seen = Vec::new();
        bvh.nearest(&origin, &dir, f64::INFINITY, |i, t| {
            seen.push(i);
            t
        });
        // Leaves hold two items, so a visited leaf may hold one the ray misses; every box the
        // ray enters must be visited, once.
        seen.sort();
        let expected: Vec<usize> = boxes
            .iter()
            .filter(|(_, b)| b.entry(&origin, &inv, f64::INFINITY).is_some())
            .map(|(i, _)| *i)
            .collect();
        assert_eq!(expected, [5, 6, 7, 8]);
        assert!(expected.iter().all(|i| seen.contains(i)), "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] != w[1]));
        assert!(seen.len() < boxes.len());
        assert!(bvh.any(&origin, &dir, f64::INFINITY, |i| i == expected[0]));
        assert!(!bvh.any(&origin, &dir, f64::INFINITY, |i| i == 19));
        // Nearest-hit: with every box reporting a hit at its entry, the nearest wins.
        let t = bvh.nearest(&origin, &dir, f64::INFINITY, |i, t| {
            let e = boxes[i].1.entry(&origin, &inv, t).unwrap_or(t);
            e.min(t)
        });
        assert!((t - 2.5 / dir.x).abs() < 1e-9, "{t}");
    }
}
